package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool // trusts cert
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "chateau test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a new key and a certificate for 127.0.0.1 named cn, signed
// by ca, to keyFile and certFile.
func (ca *testCA) issue(t *testing.T, cn, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	mustWriteFile(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))(t, certFile)
	mustWriteFile(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))(t, keyFile)
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// dialWSS opens a WebSocket at addr over TLS, trusting only ca, and
// returns it with the name of the certificate the server showed.
func dialWSS(t *testing.T, addr string, ca *testCA) (*websocket.Conn, string) {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: ca.pool}, HandshakeTimeout: e2eWait}
	ws, _, err := d.Dial("wss://"+addr+"/ws", nil)
	if err != nil {
		t.Fatalf("dial wss: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	state := ws.UnderlyingConn().(*tls.Conn).ConnectionState()
	return ws, state.PeerCertificates[0].Subject.CommonName
}

// TestServe_TLS_Reload: with -tls-cert and -tls-key the public listener
// speaks only TLS; a reload serves the files' new certificate to new
// connections while open ones go on, and a reload from files that do not
// hold a certificate and its key keeps the one being served.
func TestServe_TLS_Reload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "chateau.pem"), filepath.Join(dir, "chateau.key")
	ca := newTestCA(t)
	ca.issue(t, "first", certFile, keyFile)
	p := startInProcess(t, "-data", filepath.Join(dir, "chateau.db"), "-tls-cert", certFile, "-tls-key", keyFile)

	ann, name := dialWSS(t, p.addr(), ca)
	if name != "first" {
		t.Fatalf("the server showed %q, want first", name)
	}
	if m := call(t, ann, map[string]any{"type": "RegisterRequest", "username": "ann"}); m["status"] != float64(200) {
		t.Fatalf("register over wss: %v", m)
	}
	if ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr()+"/ws", nil); err == nil {
		ws.Close()
		t.Error("a plain ws:// connection was accepted")
	}

	ca.issue(t, "second", certFile, keyFile)
	p.hup <- syscall.SIGHUP
	p.awaitLog(`msg="TLS certificate reloaded"`, 1)
	if _, name := dialWSS(t, p.addr(), ca); name != "second" {
		t.Errorf("after the reload the server showed %q, want second", name)
	}
	if m := call(t, ann, map[string]any{"type": "ClientListRequest"}); m["status"] != float64(200) {
		t.Errorf("the connection made before the reload: %v", m)
	}

	secondCert, secondKey := mustReadFile(t, certFile), mustReadFile(t, keyFile)
	ca.issue(t, "third", filepath.Join(dir, "third.pem"), filepath.Join(dir, "third.key"))
	thirdCert := mustReadFile(t, filepath.Join(dir, "third.pem"))
	bad := []struct {
		name      string
		cert, key []byte // put in place of the files
	}{
		{"not PEM", []byte("not a certificate"), secondKey},
		{"no key", secondCert, nil},
		{"the key of another certificate", thirdCert, secondKey},
	}
	for i, tt := range bad {
		mustWriteFile(string(tt.cert))(t, certFile)
		mustWriteFile(string(tt.key))(t, keyFile)
		p.hup <- syscall.SIGHUP
		p.awaitLog(`msg="TLS certificate not reloaded; still serving the previous one"`, i+1)
		if _, name := dialWSS(t, p.addr(), ca); name != "second" {
			t.Errorf("%s: after a failed reload the server showed %q, want second", tt.name, name)
		}
	}
}

// TestE2E_SIGHUP: the real binary reloads its certificate at SIGHUP, and
// without one says so and goes on serving; either way SIGTERM then stops
// it with status 0.
func TestE2E_SIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "chateau.pem"), filepath.Join(dir, "chateau.key")
	ca := newTestCA(t)
	ca.issue(t, "first", certFile, keyFile)
	p := startServe(t, filepath.Join(dir, "tls.db"), "-tls-cert", certFile, "-tls-key", keyFile)
	if _, name := dialWSS(t, p.addr, ca); name != "first" {
		t.Fatalf("the server showed %q, want first", name)
	}
	ca.issue(t, "second", certFile, keyFile)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, p, `msg="TLS certificate reloaded"`)
	if _, name := dialWSS(t, p.addr, ca); name != "second" {
		t.Errorf("after SIGHUP the server showed %q, want second", name)
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Errorf("the TLS server's exit: %v\n%s", err, p.log())
	}

	plain := startServe(t, filepath.Join(dir, "plain.db"))
	if err := plain.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, plain, "SIGHUP: no TLS certificate to reload")
	if m := call(t, plain.dial(t), map[string]any{"type": "RegisterRequest", "username": "ann"}); m["status"] != float64(200) {
		t.Errorf("register after SIGHUP: %v", m)
	}
	if err := plain.stop(syscall.SIGTERM); err != nil {
		t.Errorf("the plain server's exit: %v\n%s", err, plain.log())
	}
}

// TestServe_TLS_Unreadable: a certificate that cannot be loaded stops serve
// before it listens or opens the data file, with an error (status 1).
func TestServe_TLS_Unreadable(t *testing.T) {
	dir := t.TempDir()
	data, keyFile := filepath.Join(dir, "chateau.db"), filepath.Join(dir, "chateau.key")
	mustWriteFile("not a key")(t, keyFile)
	_, _, err := runMain(t, "serve", "-addr", "127.0.0.1:0", "-data", data, "-tls-cert", filepath.Join(dir, "missing.pem"), "-tls-key", keyFile)
	if err == nil || errors.As(err, new(*usageError)) || !strings.Contains(err.Error(), "missing.pem") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve = %v, want an error naming the missing certificate", err)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data file was created (stat: %v)", err)
	}
}

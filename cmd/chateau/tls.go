package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
)

// certReloader is the public listener's TLS certificate, read from its
// files at start and again at each reload (SIGHUP), so that a renewed
// certificate is served without a restart. Connections already open keep
// the certificate they were made with.
type certReloader struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

// loadCertificate reads the certificate and its key, or fails.
func loadCertificate(certFile, keyFile string) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the files again and serves what they hold from the next
// handshake on; if they do not hold a certificate and its key, it keeps
// the current one and says why.
func (c *certReloader) reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s, key %s: %w", c.certFile, c.keyFile, err)
	}
	c.current.Store(&cert)
	return nil
}

// leaf is the current certificate's own (first) certificate.
func (c *certReloader) leaf() *x509.Certificate {
	return c.current.Load().Leaf // set by LoadX509KeyPair
}

// config is the public listener's TLS configuration: the current
// certificate at each handshake, HTTP/1.1 only (a WebSocket upgrade takes
// over the HTTP/1.1 connection; HTTP/2 would need RFC 8441).
func (c *certReloader) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

// listenPublic listens on cfg.addr, behind TLS with the certificate of
// -tls-cert and -tls-key if they are set.
func (s *server) listenPublic() (net.Listener, error) {
	if s.cfg.tlsCert != "" {
		certs, err := loadCertificate(s.cfg.tlsCert, s.cfg.tlsKey)
		if err != nil {
			return nil, err
		}
		s.certs = certs
		logCertificate(s.logger, "TLS certificate loaded", certs.leaf())
	}
	ln, err := net.Listen("tcp", s.cfg.addr)
	if err != nil || s.certs == nil {
		return ln, err
	}
	return tls.NewListener(ln, s.certs.config()), nil
}

// reloadCertificate reloads the TLS certificate, if the server has one,
// and logs the outcome; a failed reload keeps serving the current one.
func (s *server) reloadCertificate() {
	if s.certs == nil {
		s.logger.Info("SIGHUP: no TLS certificate to reload (-tls-cert is not set)")
		return
	}
	if err := s.certs.reload(); err != nil {
		s.logger.Error("TLS certificate not reloaded; still serving the previous one", "err", err)
		return
	}
	logCertificate(s.logger, "TLS certificate reloaded", s.certs.leaf())
}

// logCertificate logs msg with what identifies the certificate to an
// operator.
func logCertificate(logger *slog.Logger, msg string, leaf *x509.Certificate) {
	logger.Info(msg, "subject", leaf.Subject.String(), "dns", leaf.DNSNames, "not_after", leaf.NotAfter.UTC())
}

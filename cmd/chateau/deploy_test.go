package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitFile is the systemd unit shipped for deployments.
const unitFile = "../../deploy/chateau.service"

// TestDeploy_UnitEnvironment: every CHATEAU_ variable the unit sets is a
// serve flag's, as `serve -h` lists them.
func TestDeploy_UnitEnvironment(t *testing.T) {
	unit := string(mustReadFile(t, unitFile))
	usage := string(mustReadFile(t, filepath.Join("testdata", "serve-usage.txt")))
	var set []string
	for _, line := range strings.Split(unit, "\n") {
		assignments, ok := strings.CutPrefix(line, "Environment=")
		if !ok {
			continue
		}
		for _, a := range strings.Fields(assignments) {
			name, _, _ := strings.Cut(a, "=")
			set = append(set, name)
			if !strings.Contains(usage, "("+name+",") {
				t.Errorf("the unit sets %s, which is no serve flag's variable", name)
			}
		}
	}
	if len(set) == 0 {
		t.Fatal("the unit sets no environment variable; the parse is wrong")
	}
}

// TestDeploy_UnitVerifies: `systemd-analyze verify` has nothing to say
// about the unit (it warns about unknown or malformed settings but
// exits 0), with ExecStart pointing at the binary under test.
func TestDeploy_UnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit := strings.ReplaceAll(string(mustReadFile(t, unitFile)), "/usr/local/bin/chateau", binary)
	path := filepath.Join(t.TempDir(), "chateau.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

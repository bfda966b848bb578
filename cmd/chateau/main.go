// Command chateau runs the Chateau chat server and its tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Version is the release of this binary.
const Version = "0.1.0"

const usage = `chateau is a WebSocket chat server on an event-sourced log.

Usage:
  chateau serve [flags]        serve /ws on a data file
  chateau events dump [flags]  print the event log, one event per line
  chateau migrate [flags]      apply pending migrations to a data file
  chateau backup [flags]       copy a data file, through a running server if any
  chateau compact [flags]      rewrite a stopped server's data file without the
                               old bytes of deleted or overwritten values
  chateau copy-to-stream [flags]
                               copy a data file into an empty JetStream stream
  chateau copy-to-file [flags]
                               copy a JetStream stream into a new data file
  chateau client [flags]       send JSON requests from stdin, print every frame
  chateau bench [flags]        drive load at a running server and report
  chateau version              print the version (also --version)

Run "chateau COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := (&Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}).Run(ctx, os.Args[1:])
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on one line of stderr and returns the exit status:
// 0 for success or help, 2 for bad usage, 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(stderr, "chateau: %v\n", oneLine(err))
		return 2
	}
	fmt.Fprintf(stderr, "chateau: %v\n", oneLine(err))
	return 1
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Main dispatches to the subcommands.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "serve":
		return (&ServeCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "events":
		if len(args) < 2 || args[1] != "dump" {
			return usagef("usage: chateau events dump [flags]")
		}
		return (&DumpCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[2:])
	case "migrate":
		return (&MigrateCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "backup":
		return (&BackupCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "compact":
		return (&CompactCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "copy-to-stream":
		return (&CopyToStreamCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "copy-to-file":
		return (&CopyToFileCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "client":
		return (&ClientCommand{Stdin: m.Stdin, Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "bench":
		return (&BenchCommand{Stdout: m.Stdout, Stderr: m.Stderr}).Run(ctx, args[1:])
	case "version", "--version", "-version":
		fmt.Fprintf(m.Stdout, "chateau %s\n", Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	return usagef("unknown command %q (try \"chateau help\")", args[0])
}

// parseFlags sets fs's flags from the environment (CHATEAU_ and the flag's
// name in capitals, - as _), then from args, which win. It prints usage
// only for -h, and turns any other problem into a one-line usageError.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usagef("%s: %s=%q: %v", fs.Name(), envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stdout)
			return err
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// envName is the environment variable that sets flag name.
func envName(name string) string {
	return "CHATEAU_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// printUsage lists fs's flags with their environment variables and
// defaults.
func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: chateau %s [flags]\n\nFlags (each also read from its environment variable; a flag wins):\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  -%s (%s, default %s)\n    \t%s\n", f.Name, envName(f.Name), def, f.Usage)
	})
}

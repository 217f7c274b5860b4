package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
)

// Main runs ossctl with the process's arguments, streams and environment and returns the exit
// code. SIGINT and SIGTERM cancel the command's context (exit 130); a second signal kills the
// process with the default behaviour.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second Ctrl-C terminates at once
	}()
	return Run(ctx, os.Args[1:], iostreams.System(), cmdutil.SystemEnv())
}

// Run executes ossctl with the given arguments and returns the exit code. Errors are reported on
// the streams (JSON on stdout in JSON mode).
func Run(ctx context.Context, args []string, ios *iostreams.IOStreams, env cmdutil.Env) int {
	f := cmdutil.New(ios, env)
	f.Context = ctx
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = &interruptedError{cause: err}
	}
	return HandleError(f, cmdOrRoot(cmd, root), err)
}

func cmdOrRoot(cmd, root *cobra.Command) *cobra.Command {
	if cmd != nil {
		return cmd
	}
	return root
}

// interruptedError reports a command that failed after a signal canceled its context.
type interruptedError struct{ cause error }

func (e *interruptedError) Error() string   { return "interrupted: " + e.cause.Error() }
func (e *interruptedError) Unwrap() []error { return []error{context.Canceled, e.cause} }

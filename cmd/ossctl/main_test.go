package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ossctl/ossctl/internal/cli"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ossctl": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs testdata/script/*.txtar end to end. Each script gets its own server
// (internal/server/servertest) whose endpoint and root AccessKey pair are exported as
// OSS_ENDPOINT, OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET, and a private HOME.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("..", "..", "testdata", "script"),
		Setup: func(env *testscript.Env) error {
			srv := servertest.Start(t)
			env.Defer(srv.Close)
			home := filepath.Join(env.WorkDir, "home")
			if err := os.MkdirAll(home, 0o700); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("OSS_ENDPOINT", srv.Endpoint)
			env.Setenv("OSS_ACCESS_KEY_ID", srv.AccessKeyID)
			env.Setenv("OSS_ACCESS_KEY_SECRET", srv.AccessKeySecret)
			env.Setenv("SERVER_SECRET", srv.AccessKeySecret)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitcode,
			"mode":     cmdMode,
		},
	})
}

// exitcode N PROGRAM [ARGS...] runs a program and checks its exact exit status; stdout and
// stderr are kept for later stdout/stderr checks.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// mode FILE PERM checks a file's permission bits, e.g. "mode $HOME/.ossctlconfig 0600".
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode file perm")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		ts.Fatalf("mode: bad perm %q", args[1])
	}
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := st.Mode().Perm()
	if (uint64(got) == want) == neg {
		ts.Fatalf("mode of %s is %s, want %s%04o", args[0], fmt.Sprintf("%04o", got), map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

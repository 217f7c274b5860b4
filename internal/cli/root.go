// Package cli assembles ossctl: the root command with its global flags, the command tree, and the
// mapping from errors to exit codes. It is the only package that decides how the process exits.
package cli

import (
	"strconv"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmd/acl"
	benchcmd "github.com/ossctl/ossctl/internal/cmd/bench"
	"github.com/ossctl/ossctl/internal/cmd/bucketencryption"
	"github.com/ossctl/ossctl/internal/cmd/cat"
	"github.com/ossctl/ossctl/internal/cmd/completion"
	configcmd "github.com/ossctl/ossctl/internal/cmd/config"
	"github.com/ossctl/ossctl/internal/cmd/cp"
	csecmd "github.com/ossctl/ossctl/internal/cmd/cse"
	"github.com/ossctl/ossctl/internal/cmd/du"
	keycmd "github.com/ossctl/ossctl/internal/cmd/key"
	kmscmd "github.com/ossctl/ossctl/internal/cmd/kms"
	"github.com/ossctl/ossctl/internal/cmd/ls"
	"github.com/ossctl/ossctl/internal/cmd/mb"
	"github.com/ossctl/ossctl/internal/cmd/rb"
	"github.com/ossctl/ossctl/internal/cmd/rm"
	"github.com/ossctl/ossctl/internal/cmd/serve"
	"github.com/ossctl/ossctl/internal/cmd/setmeta"
	"github.com/ossctl/ossctl/internal/cmd/sign"
	"github.com/ossctl/ossctl/internal/cmd/stat"
	synccmd "github.com/ossctl/ossctl/internal/cmd/sync"
	versioncmd "github.com/ossctl/ossctl/internal/cmd/version"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/version"
)

// Command groups shown in `ossctl --help`.
const (
	GroupStorage  = "storage"
	GroupServer   = "server"
	GroupCrypto   = "crypto"
	GroupSettings = "settings"
)

// Environment variables read by the root command.
const (
	EnvOutput = "OSSCTL_OUTPUT"
	EnvDebug  = "OSSCTL_DEBUG"
)

func init() {
	// Run every ancestor's PersistentPreRunE, not just the nearest one, so that subcommands may
	// add hooks without bypassing the root's setup.
	cobra.EnableTraverseRunHooks = true
}

// NewCmdRoot builds the command tree. It only wires; nothing here reads configuration or talks to
// the network.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	g := f.Globals
	cmd := &cobra.Command{
		Use:   "ossctl <command> [flags]",
		Short: "Work with Alibaba Cloud OSS, or serve OSS locally",
		Long: heredoc.Doc(`
			ossctl manages buckets and objects in Alibaba Cloud Object Storage Service (OSS) and in
			any OSS-compatible endpoint, including the local server that 'ossctl serve' runs.

			Settings come from flags, then environment variables, then the selected profile in
			~/.ossctlconfig, then an ossutil ~/.ossutilconfig, then defaults. Run 'ossctl config' to
			create a profile and 'ossctl config show' to see every value and where it came from.

			Every command accepts --output json; see docs/json-output.md. Exit codes are listed in
			docs/exit-codes.md and at the end of each command's help.
		`),
		Example: heredoc.Doc(`
			# set up credentials once (the secret is read without echo)
			$ ossctl config

			# or use environment variables
			$ export OSS_ENDPOINT=oss-cn-hangzhou.aliyuncs.com OSS_ACCESS_KEY_ID=... OSS_ACCESS_KEY_SECRET=...

			$ ossctl mb oss://my-bucket
			$ ossctl ls oss://my-bucket/photos/
			$ ossctl stat oss://my-bucket/photos/cat.jpg --output json
		`),
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version.String(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return setupGlobals(f, cmd)
		},
	}
	cmd.SetVersionTemplate("ossctl version {{.Version}}\n")
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cmdutil.FlagErrorWrap(err)
	})

	pf := cmd.PersistentFlags()
	g.Flags = pf
	pf.StringVar(&g.ConfigFile, "config", "", "profiles file (default: $"+config.EnvConfig+" or ~/"+config.DefaultFileName+")")
	pf.StringVarP(&g.Profile, "profile", "p", "", "profile to use (default: $"+config.EnvProfile+" or \"default\")")
	for _, ki := range config.Keys {
		if ki.Flag == "" {
			continue
		}
		usage := ki.Usage + " (default: $" + strings.Join(ki.Env, " or $") + ")"
		switch ki.Key {
		case config.KeyPathStyle:
			pf.BoolVar(&g.PathStyle, ki.Flag, false, ki.Usage+" (default: $"+strings.Join(ki.Env, " or $")+")")
		case config.KeyEndpoint:
			pf.StringVarP(g.Values[ki.Key], ki.Flag, "e", "", usage)
		case config.KeyAccessKeySecret:
			pf.StringVar(g.Values[ki.Key], ki.Flag, "", ki.Usage+"; insecure: other local users can read it from the process list, prefer $"+ki.Env[0]+" or 'ossctl config'")
		case config.KeySTSToken:
			pf.StringVar(g.Values[ki.Key], ki.Flag, "", ki.Usage+"; insecure on the command line, prefer $"+ki.Env[0])
		default:
			pf.StringVar(g.Values[ki.Key], ki.Flag, "", usage)
		}
	}
	_ = cmd.RegisterFlagCompletionFunc("sign-version", fixedCompletion(config.SignV1, config.SignV4))
	pf.StringVarP(&g.Output, "output", "o", "", "output format: {text|json} (default: $"+EnvOutput+" or text)")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(output.Formats...))
	pf.BoolVar(&g.JSON, "json", false, "shorthand for --output json")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print only data and errors: no summaries, status lines or progress")
	pf.BoolVar(&g.Debug, "debug", false, "log HTTP requests and responses to stderr, secrets redacted (default: $"+EnvDebug+")")
	_ = cmd.RegisterFlagCompletionFunc("profile", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		in := f.ConfigInputs()
		path, _ := config.DefaultPath(in)
		file, err := config.LoadFile(path)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return file.Profiles(), cobra.ShellCompDirectiveNoFileComp
	})

	cmd.AddGroup(
		&cobra.Group{ID: GroupStorage, Title: "Buckets and objects:"},
		&cobra.Group{ID: GroupCrypto, Title: "Encryption and keys:"},
		&cobra.Group{ID: GroupServer, Title: "Local server:"},
		&cobra.Group{ID: GroupSettings, Title: "Settings and tooling:"},
	)
	cmd.SetHelpCommandGroupID(GroupSettings)

	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			cmd.AddCommand(c)
		}
	}
	add(GroupStorage,
		ls.NewCmdLs(f, nil),
		mb.NewCmdMb(f, nil),
		rb.NewCmdRb(f, nil),
		cp.NewCmdCp(f, nil),
		synccmd.NewCmdSync(f, nil),
		rm.NewCmdRm(f, nil),
		cat.NewCmdCat(f, nil),
		stat.NewCmdStat(f, nil),
		du.NewCmdDu(f, nil),
		sign.NewCmdSign(f, nil),
		setmeta.NewCmdSetMeta(f, nil),
		acl.NewCmdSetACL(f, nil),
		acl.NewCmdGetACL(f, nil),
		benchcmd.NewCmdBench(f, nil),
	)
	add(GroupCrypto,
		kmscmd.NewCmdKMS(f),
		bucketencryption.NewCmdBucketEncryption(f, nil),
		keycmd.NewCmdKey(f),
		csecmd.NewCmdCSE(f),
	)
	add(GroupServer, serve.NewCmdServe(f, nil))
	add(GroupSettings,
		configcmd.NewCmdConfig(f, nil),
		completion.NewCmdCompletion(f),
		versioncmd.NewCmdVersion(f, nil),
	)
	indentExamples(cmd)
	return cmd
}

// indentExamples indents every command's examples by two spaces, as cobra prints them verbatim.
func indentExamples(cmd *cobra.Command) {
	if cmd.Example != "" {
		lines := strings.Split(strings.TrimRight(cmd.Example, "\n"), "\n")
		for i, l := range lines {
			if l != "" && !strings.HasPrefix(l, "  ") {
				lines[i] = "  " + l
			}
		}
		cmd.Example = strings.Join(lines, "\n")
	}
	for _, c := range cmd.Commands() {
		indentExamples(c)
	}
}

func fixedCompletion(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// setupGlobals applies the global flags once they are parsed: output format, quiet, debug, and a
// warning when a secret was passed on the command line.
func setupGlobals(f *cmdutil.Factory, cmd *cobra.Command) error {
	g := f.Globals
	lookup := f.Env.LookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	raw := g.Output
	outputGiven := g.Flags != nil && g.Flags.Changed("output")
	if !outputGiven && !g.JSON {
		if v, ok := lookup(EnvOutput); ok && v != "" {
			raw = v
		}
	}
	format, err := output.ParseFormat(raw)
	if err != nil {
		if outputGiven {
			return cmdutil.FlagErrorf("invalid --output: %v", err)
		}
		return cmdutil.FlagErrorf("invalid $%s: %v", EnvOutput, err)
	}
	if g.JSON {
		if outputGiven && format != output.FormatJSON {
			return cmdutil.FlagErrorf("--json conflicts with --output %s", format)
		}
		format = output.FormatJSON
	}
	g.Format = format
	if !g.Debug {
		if v, ok := lookup(EnvDebug); ok {
			if b, err := strconv.ParseBool(v); err == nil {
				g.Debug = b
			}
		}
	}
	ios := f.IOStreams
	ios.SetQuiet(g.Quiet)
	ios.SetMachineOutput(format == output.FormatJSON)
	if g.Flags != nil {
		for _, name := range []string{"access-key-secret", "sts-token"} {
			if g.Flags.Changed(name) {
				ios.Eprintf("warning: --%s on the command line is visible to other local users; prefer the environment or 'ossctl config'\n", name)
			}
		}
	}
	_ = cmd
	return nil
}

package key

import (
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
)

// captureTree builds the key command tree with every leaf's runF recording its options in *got.
func captureTree(f *cmdutil.Factory, got *any) *cobra.Command {
	b := &Base{IO: f.IOStreams, Printer: f.Printer, Now: f.Now, Config: f.Config, LookupEnv: f.Env.LookupEnv}
	root := &cobra.Command{Use: "key", SilenceErrors: true, SilenceUsage: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	name := func(o *NameOptions) error { *got = o; return nil }
	root.AddCommand(
		newCmdCreate(b, name), newCmdShow(b, name), newCmdExportPublic(b, name), newCmdRotate(b, name),
		newCmdList(b, func(o *ListOptions) error { *got = o; return nil }),
		newCmdImport(b, func(o *ImportOptions) error { *got = o; return nil }),
		newCmdDelete(b, func(o *DeleteOptions) error { *got = o; return nil }),
	)
	return root
}

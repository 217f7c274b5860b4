package kms

import (
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
)

// captureTree builds the kms command tree with every leaf's runF recording its options in *got.
func captureTree(f *cmdutil.Factory, got *any) *cobra.Command {
	root := &cobra.Command{Use: "kms", SilenceErrors: true, SilenceUsage: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	keyOpt := func(o *KeyOptions) error { *got = o; return nil }
	aliasOpt := func(o *AliasOptions) error { *got = o; return nil }
	alias := &cobra.Command{Use: "alias"}
	alias.AddCommand(newCmdAliasSet(f, "create", aliasOpt), newCmdAliasSet(f, "update", aliasOpt),
		newCmdAliasDelete(f, aliasOpt), newCmdAliasList(f, aliasOpt))
	root.AddCommand(
		newCmdCreate(f, func(o *CreateOptions) error { *got = o; return nil }),
		newCmdDescribe(f, keyOpt),
		newCmdList(f, func(o *ListOptions) error { *got = o; return nil }),
		newCmdSetState(f, "enable", keyOpt),
		newCmdSetState(f, "disable", keyOpt),
		newCmdSetState(f, "cancel-deletion", keyOpt),
		newCmdScheduleDeletion(f, func(o *ScheduleDeletionOptions) error { *got = o; return nil }),
		newCmdRotate(f, keyOpt),
		newCmdEncrypt(f, func(o *CryptOptions) error { *got = o; return nil }),
		newCmdDecrypt(f, func(o *CryptOptions) error { *got = o; return nil }),
		alias,
	)
	return root
}

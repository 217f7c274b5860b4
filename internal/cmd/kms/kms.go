// Package kms implements `ossctl kms`: customer master keys, aliases, rotation and
// Encrypt/Decrypt through the official KMS client, against Alibaba Cloud KMS or the KMS API of
// `ossctl serve` alike.
package kms

import (
	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// Base is what every kms verb needs; tests build it directly.
type Base struct {
	IO      *iostreams.IOStreams
	KMS     func() (*cmdutil.KMSClient, error) // lazy: a flag error never needs credentials
	Printer func() *output.Printer
}

func newBase(f *cmdutil.Factory) Base {
	return Base{IO: f.IOStreams, KMS: f.KMS, Printer: f.Printer}
}

// exitCodes are the codes of a kms verb.
var exitCodes = cmdutil.RemoteExitCodes

// NewCmdKMS builds `ossctl kms` and its verbs.
func NewCmdKMS(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kms <command>",
		Short: "Manage KMS keys and encrypt or decrypt small secrets",
		Long: heredoc.Doc(`
			Work with customer master keys (CMKs) in Alibaba Cloud KMS or in the KMS API that
			'ossctl serve' answers on its OSS endpoint: create, describe, list, enable, disable,
			schedule and cancel deletion, rotate, aliases, and Encrypt/Decrypt of up to 4 KiB.

			Requests go to kms_endpoint when it is set ($OSSCTL_KMS_ENDPOINT or the profile),
			otherwise to the OSS endpoint itself unless that is an aliyuncs.com endpoint, in which
			case the region's KMS endpoint (kms.<region>.aliyuncs.com, HTTPS) is used. The AccessKey
			pair is the one used for OSS.
		`),
		Example: heredoc.Doc(`
			$ ossctl kms create --description backups
			$ ossctl kms alias create alias/backups KEY_ID
			$ ossctl kms encrypt --key-id alias/backups --in secret.txt --out secret.kms
			$ ossctl kms decrypt --in secret.kms
		`),
	}
	cmd.AddCommand(
		newCmdCreate(f, nil),
		newCmdDescribe(f, nil),
		newCmdList(f, nil),
		newCmdSetState(f, "enable", nil),
		newCmdSetState(f, "disable", nil),
		newCmdScheduleDeletion(f, nil),
		newCmdSetState(f, "cancel-deletion", nil),
		newCmdRotate(f, nil),
		newCmdEncrypt(f, nil),
		newCmdDecrypt(f, nil),
		newCmdAlias(f),
	)
	return cmd
}

package cmdutil

import (
	"context"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"
)

// completionTimeout bounds the requests made while completing a shell word.
const completionTimeout = 5 * time.Second

// completionLimit bounds the number of candidates offered.
const completionLimit = 200

// CompleteBuckets completes oss://BUCKET arguments from the bucket list. maxArgs limits how many
// positional arguments are completed (0 means no limit). Errors yield no candidates.
func CompleteBuckets(f *Factory, maxArgs int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if maxArgs > 0 && len(args) >= maxArgs {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return bucketCandidates(f, cmd, toComplete, ""), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteOSSPaths completes oss://BUCKET/KEY arguments: bucket names first, then one level of
// keys and prefixes below what was typed. Local paths are completed by the shell when the word
// does not start with "oss://" and allowLocal is set.
func CompleteOSSPaths(f *Factory, maxArgs int, allowLocal bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if maxArgs > 0 && len(args) >= maxArgs {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if !IsOSSURL(toComplete) && !strings.HasPrefix(Scheme, toComplete) {
			if allowLocal {
				return nil, cobra.ShellCompDirectiveDefault
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if toComplete == "" || !strings.Contains(toComplete[min(len(toComplete), len(Scheme)):], "/") {
			return bucketCandidates(f, cmd, toComplete, "/"), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		}
		u, err := ParseURL(toComplete)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := f.OSS()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		b, err := c.Bucket(u.Bucket)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(completionContext(cmd), completionTimeout)
		defer cancel()
		res, err := b.ListObjects(oss.Prefix(u.Key), oss.Delimiter("/"), oss.MaxKeys(completionLimit), oss.WithContext(ctx))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, p := range res.CommonPrefixes {
			out = append(out, OSSURL{Bucket: u.Bucket, Key: p}.String())
		}
		for _, o := range res.Objects {
			out = append(out, OSSURL{Bucket: u.Bucket, Key: o.Key}.String())
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

func completionContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func bucketCandidates(f *Factory, cmd *cobra.Command, toComplete, suffix string) []string {
	c, err := f.OSS()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(completionContext(cmd), completionTimeout)
	defer cancel()
	prefix := ""
	if IsOSSURL(toComplete) {
		prefix = toComplete[len(Scheme):]
	}
	res, err := c.ListBuckets(oss.Prefix(prefix), oss.MaxKeys(completionLimit), oss.WithContext(ctx))
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(res.Buckets))
	for _, b := range res.Buckets {
		out = append(out, Scheme+b.Name+suffix)
	}
	return out
}

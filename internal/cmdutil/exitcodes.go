package cmdutil

import (
	"fmt"
	"strings"
)

// Exit codes. They are part of ossctl's interface: docs/exit-codes.md documents them, every leaf
// command's help ends with the ones it can return, and internal/cli maps errors onto them.
const (
	ExitOK          = 0   // success
	ExitError       = 1   // any other error
	ExitUsage       = 2   // bad flags or arguments; usage is printed
	ExitNotFound    = 3   // bucket, object, upload or local file not found
	ExitAuth        = 4   // authentication or permission failure
	ExitNetwork     = 5   // network failure, timeout or server-side (5xx) error; retrying may help
	ExitIntegrity   = 6   // checksum mismatch or other data-integrity/crypto failure
	ExitPartial     = 7   // some items of a batch failed
	ExitInterrupted = 130 // interrupted (SIGINT/SIGTERM) or canceled
)

var exitDescriptions = map[int]string{
	ExitOK:          "success",
	ExitError:       "other error",
	ExitUsage:       "usage error: bad flags or arguments",
	ExitNotFound:    "not found: bucket, object, upload or local file",
	ExitAuth:        "authentication failed or access denied",
	ExitNetwork:     "network error, timeout or server error (5xx); retrying may help",
	ExitIntegrity:   "integrity failure: checksum mismatch or corrupted data",
	ExitPartial:     "partial failure: some items of a batch failed",
	ExitInterrupted: "interrupted",
}

// AllExitCodes lists every exit code in order.
var AllExitCodes = []int{ExitOK, ExitError, ExitUsage, ExitNotFound, ExitAuth, ExitNetwork, ExitIntegrity, ExitPartial, ExitInterrupted}

// RemoteExitCodes are the codes of a command that makes OSS requests and handles one item.
var RemoteExitCodes = []int{ExitOK, ExitError, ExitUsage, ExitNotFound, ExitAuth, ExitNetwork, ExitInterrupted}

// ExitDescription returns the one-line meaning of an exit code.
func ExitDescription(code int) string { return exitDescriptions[code] }

// ExitStatus renders the EXIT STATUS section that ends every leaf command's Long help, listing
// the given codes (all codes when none are given).
func ExitStatus(codes ...int) string {
	if len(codes) == 0 {
		codes = AllExitCodes
	}
	var b strings.Builder
	b.WriteString("EXIT STATUS\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "  %-4d %s\n", c, exitDescriptions[c])
	}
	b.WriteString("See docs/exit-codes.md for details.\n")
	return b.String()
}

// LongHelp joins a command's description and its EXIT STATUS section.
func LongHelp(description string, codes ...int) string {
	return strings.TrimRight(description, "\n") + "\n\n" + ExitStatus(codes...)
}

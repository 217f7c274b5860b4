package pop

import (
	"net/http"

	"github.com/ossctl/ossctl/internal/auth"
)

// authorize is the single authorization decision of the POP APIs: may the
// request's principal perform action (e.g. "kms:Encrypt") on resource (an
// ARN such as acs:kms:<region>:<uid>:key/<id>)?
//
// The account's root principal may do anything. RAM users and STS
// sessions are denied until RAM policies are evaluated here; the denial
// names the principal, the action and the resource.
func (rq *request) authorize(action, resource string) error {
	return authorize(rq.principal, rq.h.cfg.AccountID, action, resource)
}

func authorize(p *auth.Principal, accountID, action, resource string) error {
	if p != nil && !p.Anonymous && p.Root && (p.AccountID == "" || p.AccountID == accountID) {
		return nil
	}
	who := "anonymous"
	if p != nil && !p.Anonymous {
		who = "AccessKey " + p.AccessKeyID
		if p.UserName != "" {
			who = "RAM user " + p.UserName + " (" + who + ")"
		}
	}
	return &Error{Status: http.StatusForbidden, Code: CodeAccessDenied,
		Message: "The " + who + " is not authorized to perform " + action + " on resource " + resource +
			": only the account's root credentials may use KMS on this server until RAM policies are supported."}
}

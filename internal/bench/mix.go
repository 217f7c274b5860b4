package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Op is one kind of request the benchmark makes.
type Op int

// The operations, in report order.
const (
	OpGet Op = iota
	OpHead
	OpPut
	OpDelete
	numOps
)

// Ops lists every operation in report order.
var Ops = []Op{OpGet, OpHead, OpPut, OpDelete}

var opNames = [numOps]string{"get", "head", "put", "delete"}

// String returns the operation's name: get, head, put or delete.
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return "op(" + strconv.Itoa(int(o)) + ")"
	}
	return opNames[o]
}

// Mix is the relative weight of each operation in a mixed benchmark. Weights need not add up to
// 100; an operation with weight 0 is never chosen.
type Mix struct {
	Get    int `json:"get"`
	Head   int `json:"head"`
	Put    int `json:"put"`
	Delete int `json:"delete"`
}

// DefaultMix is the mix of `ossctl bench mixed` without --mix.
var DefaultMix = Mix{Get: 45, Head: 15, Put: 30, Delete: 10}

// weight returns the weight of op.
func (m Mix) weight(op Op) int {
	switch op {
	case OpGet:
		return m.Get
	case OpHead:
		return m.Head
	case OpPut:
		return m.Put
	case OpDelete:
		return m.Delete
	}
	return 0
}

// Total returns the sum of the weights.
func (m Mix) Total() int { return m.Get + m.Head + m.Put + m.Delete }

// String renders the mix in the form ParseMix reads, omitting zero weights.
func (m Mix) String() string {
	var parts []string
	for _, op := range Ops {
		if w := m.weight(op); w > 0 {
			parts = append(parts, op.String()+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}

// maxWeight bounds each weight so that sums cannot overflow.
const maxWeight = 1_000_000

// ParseMix parses "get=45,head=15,put=30,delete=10". Operations left out get weight 0; names are
// case-insensitive; at least one weight must be positive.
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return Mix{}, fmt.Errorf("invalid mix entry %q: expected OP=WEIGHT", part)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || w < 0 || w > maxWeight {
			return Mix{}, fmt.Errorf("invalid weight %q for %s: expected an integer from 0 to %d", val, name, maxWeight)
		}
		if seen[name] {
			return Mix{}, fmt.Errorf("%s appears twice in the mix", name)
		}
		seen[name] = true
		switch name {
		case "get":
			m.Get = w
		case "head":
			m.Head = w
		case "put":
			m.Put = w
		case "delete":
			m.Delete = w
		default:
			return Mix{}, fmt.Errorf("unknown operation %q in the mix: expected get, head, put or delete", name)
		}
	}
	if m.Total() == 0 {
		return Mix{}, fmt.Errorf("invalid mix %q: at least one weight must be positive", s)
	}
	return m, nil
}

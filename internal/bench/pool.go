package bench

import (
	mrand "math/rand/v2"
	"sync"
)

// keyPool holds the keys of the objects that exist, so that GET, HEAD and overwriting PUT pick
// existing objects and DELETE never removes an object another worker is reading: readers lease a
// key, and only a key without leases can be taken for deletion.
type keyPool struct {
	mu     sync.Mutex
	keys   []string
	index  map[string]int // key → position in keys
	leases map[string]int
}

func newKeyPool() *keyPool {
	return &keyPool{index: map[string]int{}, leases: map[string]int{}}
}

// Len returns the number of keys.
func (p *keyPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys)
}

// Add adds a key that now exists.
func (p *keyPool) Add(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.index[key]; ok {
		return
	}
	p.index[key] = len(p.keys)
	p.keys = append(p.keys, key)
}

// Lease picks a random key and protects it from deletion until Release.
func (p *keyPool) Lease(rng *mrand.Rand) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.keys) == 0 {
		return "", false
	}
	k := p.keys[rng.IntN(len(p.keys))]
	p.leases[k]++
	return k, true
}

// Release ends a lease taken with Lease.
func (p *keyPool) Release(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.leases[key]; n > 1 {
		p.leases[key] = n - 1
	} else {
		delete(p.leases, key)
	}
}

// TakeIdle removes and returns a random key that nobody holds a lease on, provided more than keep
// keys remain afterwards. It gives up after a few busy picks.
func (p *keyPool) TakeIdle(rng *mrand.Rand, keep int) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.keys) <= keep {
		return "", false
	}
	for range 8 {
		i := rng.IntN(len(p.keys))
		k := p.keys[i]
		if p.leases[k] > 0 {
			continue
		}
		last := len(p.keys) - 1
		p.keys[i] = p.keys[last]
		p.index[p.keys[i]] = i
		p.keys = p.keys[:last]
		delete(p.index, k)
		return k, true
	}
	return "", false
}

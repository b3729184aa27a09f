package statem

import (
	"context"
	"fmt"
	"sync"
)

// Process is the type-erased view of a machine, used by registries and
// CallAs. *Machine[S, D] implements it.
type Process interface {
	Call(ctx context.Context, req any) (any, error)
	Cast(msg any) error
	Send(msg any) error
	Stop(ctx context.Context, reason error) error
	Done() <-chan struct{}
	Err() error
}

// Registry maps names to running machines (OTP's local names and the via
// form). Implementations must be safe for concurrent use.
type Registry interface {
	// Register binds name to p. If the name is taken it returns an
	// *AlreadyStartedError carrying the registered process and changes
	// nothing.
	Register(name any, p Process) error
	// Unregister removes name if it is bound to p; otherwise it does
	// nothing (so a late unregister never removes a successor).
	Unregister(name any, p Process)
	// Whereis returns the process registered under name.
	Whereis(name any) (Process, bool)
}

// LocalRegistry is an in-memory Registry: a map under a mutex. The zero
// value is an empty registry ready to use.
type LocalRegistry struct {
	mu    sync.Mutex
	names map[any]Process
}

// NewLocalRegistry returns an empty registry.
func NewLocalRegistry() *LocalRegistry {
	return &LocalRegistry{names: make(map[any]Process)}
}

// Register implements Registry. A name that is not comparable (a slice, a
// map, a func, or a struct holding one) is refused with an error.
func (r *LocalRegistry) Register(name any, p Process) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if recover() != nil { // the map lookup panicked: not comparable
			err = fmt.Errorf("statem: name %v is not comparable", name)
		}
	}()
	if old, ok := r.names[name]; ok {
		return &AlreadyStartedError{Name: name, Existing: old}
	}
	if r.names == nil {
		r.names = make(map[any]Process)
	}
	r.names[name] = p
	return nil
}

// Unregister implements Registry.
func (r *LocalRegistry) Unregister(name any, p Process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.names[name]; ok && old == p {
		delete(r.names, name)
	}
}

// Whereis implements Registry.
func (r *LocalRegistry) Whereis(name any) (Process, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.names[name]
	return p, ok
}

// Len returns the number of registered names.
func (r *LocalRegistry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.names)
}

// defaultRegistry is the package's local registry (OTP {local, Name}),
// used by WithName(nil, name).
var defaultRegistry = NewLocalRegistry()

// Whereis looks name up in the package's default local registry.
func Whereis(name any) (Process, bool) { return defaultRegistry.Whereis(name) }

package ortlib

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef struct {
	const void* (*GetApi)(unsigned int version);
	const char* (*GetVersionString)(void);
} ortApiBase;

typedef const ortApiBase* (*getApiBaseFn)(void);

static const char* ortVersion(void* handle) {
	void* sym = dlsym(handle, "OrtGetApiBase");
	if (sym == NULL) return NULL;
	const ortApiBase* base = ((getApiBaseFn)sym)();
	if (base == NULL || base->GetVersionString == NULL) return NULL;
	return base->GetVersionString();
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// LibraryVersion loads the library at path and asks it for its version
// (OrtGetApiBase()->GetVersionString(), a stable part of the ONNX Runtime
// ABI). It does not initialise an ONNX Runtime environment.
func LibraryVersion(path string) (string, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	h := C.dlopen(cp, C.RTLD_LAZY|C.RTLD_LOCAL)
	if h == nil {
		return "", fmt.Errorf("loading %s: %s", path, C.GoString(C.dlerror()))
	}
	defer C.dlclose(h)
	v := C.ortVersion(h)
	if v == nil {
		return "", fmt.Errorf("%s is not an ONNX Runtime library: it has no OrtGetApiBase", path)
	}
	return C.GoString(v), nil
}

// ErrLoad describes a shared library that could not be loaded.
var ErrLoad = errors.New("shared library failed to load")

// LoadError is a shared library the dynamic loader could not load; it
// matches ErrLoad.
type LoadError struct {
	// Reason is the loader's message (dlerror).
	Reason string
}

func (e *LoadError) Error() string { return ErrLoad.Error() + ": " + e.Reason }

// Is reports whether target is ErrLoad.
func (e *LoadError) Is(target error) bool { return target == ErrLoad }

// TryLoad loads the shared library at path (and its dependencies) and
// unloads it again. The error names what the dynamic loader could not find,
// for example "libcublasLt.so.13: cannot open shared object file".
func TryLoad(path string) error {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	h := C.dlopen(cp, C.RTLD_LAZY|C.RTLD_LOCAL)
	if h == nil {
		return &LoadError{Reason: C.GoString(C.dlerror())}
	}
	C.dlclose(h)
	return nil
}

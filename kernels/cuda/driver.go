//go:build cgo

package cuda

/*
#cgo CFLAGS: -O2 -std=c11 -Wall
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// driverLib is the soname of the CUDA driver library every driver install
// provides (the unversioned libcuda.so comes only with development files).
const driverLib = "libcuda.so.1"

var (
	errNoDriver = errors.New("no CUDA driver (" + driverLib + " not found)")
	errNoDevice = errors.New("no CUDA device")
)

// cuError is a failed driver call.
type cuError struct {
	op   string
	code int
}

func (e *cuError) Error() string {
	var name, msg *C.char
	C.shim_error_name(C.int(e.code), &name)
	C.shim_error_string(C.int(e.code), &msg)
	if name == nil || msg == nil {
		return fmt.Sprintf("%s: CUDA error %d", e.op, e.code)
	}
	return fmt.Sprintf("%s: %s: %s", e.op, C.GoString(name), C.GoString(msg))
}

func check(op string, rc C.int) error {
	if rc != 0 {
		return &cuError{op, int(rc)}
	}
	return nil
}

var (
	loadOnce sync.Once
	loadErr  error
)

// openDriver loads lib (once per process for the real driver) and
// initialises it. Errors are errNoDriver, a too-old driver, or errNoDevice.
func openDriver(lib string) error {
	cl := C.CString(lib)
	defer C.free(unsafe.Pointer(cl))
	if C.shim_probe(cl) != C.SH_LOAD_OK {
		if lib == driverLib {
			return errNoDriver
		}
		return fmt.Errorf("no CUDA driver (%s not found)", lib)
	}
	loadOnce.Do(func() {
		switch C.shim_load(cl) {
		case C.SH_LOAD_OK:
		case C.SH_LOAD_MISSING_SYMBOL:
			loadErr = fmt.Errorf("CUDA driver too old: %s lacks %s", lib, C.GoString(C.shim_load_detail()))
			return
		default:
			loadErr = errNoDriver
			return
		}
		if rc := C.shim_init(); rc != 0 {
			loadErr = fmt.Errorf("%w (%v)", errNoDevice, &cuError{"cuInit", int(rc)})
		}
	})
	return loadErr
}

// deviceCount is the number of CUDA devices; 0 is reported as errNoDevice.
func deviceCount() (int, error) {
	var n C.int
	if err := check("cuDeviceGetCount", C.shim_device_count(&n)); err != nil {
		return 0, fmt.Errorf("%w (%v)", errNoDevice, err)
	}
	if n == 0 {
		return 0, errNoDevice
	}
	return int(n), nil
}

// devInfo describes a device for launch configuration and reports.
type devInfo struct {
	name      string
	cc        int // compute capability, major·10 + minor
	sms       int
	smemOptin int   // bytes of shared memory a block may opt into
	totalMem  int64 // bytes
	memBusGBs float64
	driver    int // driver API version, e.g. 12040
}

// Device attributes (CUdevice_attribute values).
const (
	attrSMs       = 16
	attrMemClock  = 36 // kHz
	attrBusWidth  = 37 // bits
	attrCCMajor   = 75
	attrCCMinor   = 76
	attrSmemOptin = 97
)

func queryDevice(ordinal int) (dev int, info devInfo, err error) {
	var d C.int
	if err = check("cuDeviceGet", C.shim_device_get(C.int(ordinal), &d)); err != nil {
		return 0, info, err
	}
	var buf [256]C.char
	if err = check("cuDeviceGetName", C.shim_device_name(d, &buf[0], C.int(len(buf)))); err != nil {
		return 0, info, err
	}
	info.name = C.GoString(&buf[0])
	attr := func(a int) int {
		var v C.int
		if e := check("cuDeviceGetAttribute", C.shim_device_attr(d, C.int(a), &v)); e != nil && err == nil {
			err = e
		}
		return int(v)
	}
	info.cc = attr(attrCCMajor)*10 + attr(attrCCMinor)
	info.sms = attr(attrSMs)
	info.smemOptin = attr(attrSmemOptin)
	// DDR: two transfers per clock.
	info.memBusGBs = 2 * float64(attr(attrMemClock)) * 1e3 * float64(attr(attrBusWidth)) / 8 / 1e9
	var total C.size_t
	if e := check("cuDeviceTotalMem", C.shim_device_total_mem(d, &total)); e != nil && err == nil {
		err = e
	}
	info.totalMem = int64(total)
	var ver C.int
	C.shim_driver_version(&ver)
	info.driver = int(ver)
	return int(d), info, err
}

// gpu is one device's context, stream and kernel module. Every method is
// safe to call from any OS thread: the shim makes the context current.
type gpu struct {
	dev    int
	ctx    unsafe.Pointer
	stream unsafe.Pointer
	mod    unsafe.Pointer
	fns    map[string]unsafe.Pointer
	info   devInfo
	pdl    bool // launch with programmatic dependent launch (pdl.go)
}

// openGPU retains the primary context of device ordinal, creates a stream
// and loads the kernel image (a fatbin).
func openGPU(ordinal int, image []byte) (*gpu, error) {
	dev, info, err := queryDevice(ordinal)
	if err != nil {
		return nil, err
	}
	g := &gpu{dev: dev, info: info, fns: map[string]unsafe.Pointer{}}
	if err := check("cuDevicePrimaryCtxRetain", C.shim_ctx_retain(C.int(dev), &g.ctx)); err != nil {
		return nil, err
	}
	if err := check("cuStreamCreate", C.shim_stream_create(g.ctx, &g.stream)); err != nil {
		C.shim_ctx_release(C.int(dev))
		return nil, err
	}
	// The driver parses the image in place: give it C memory that Go's
	// collector cannot move, and that is suitably aligned.
	img := C.CBytes(image)
	defer C.free(img)
	if err := check("cuModuleLoadData", C.shim_module_load(g.ctx, &g.mod, img)); err != nil {
		g.close()
		return nil, fmt.Errorf("%w (the kernels may lack code for compute capability %d.%d: rebuild with make cuda)",
			err, info.cc/10, info.cc%10)
	}
	return g, nil
}

// function returns the kernel called name.
func (g *gpu) function(name string) (unsafe.Pointer, error) {
	if f, ok := g.fns[name]; ok {
		return f, nil
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var f unsafe.Pointer
	if err := check("cuModuleGetFunction "+name, C.shim_module_function(g.ctx, &f, g.mod, cn)); err != nil {
		return nil, err
	}
	g.fns[name] = f
	return f, nil
}

// allowSmem lets kernel f use up to bytes of dynamic shared memory.
func (g *gpu) allowSmem(f unsafe.Pointer, bytes int) error {
	return check("cuFuncSetAttribute", C.shim_func_max_smem(g.ctx, f, C.int(bytes)))
}

func (g *gpu) close() error {
	var errs []error
	if g.mod != nil {
		errs = append(errs, check("cuModuleUnload", C.shim_module_unload(g.ctx, g.mod)))
	}
	if g.stream != nil {
		errs = append(errs, check("cuStreamDestroy", C.shim_stream_destroy(g.ctx, g.stream)))
	}
	errs = append(errs, check("cuDevicePrimaryCtxRelease", C.shim_ctx_release(C.int(g.dev))))
	g.mod, g.stream = nil, nil
	return errors.Join(errs...)
}

func (g *gpu) memInfo() (free, total int64, err error) {
	var f, t C.size_t
	err = check("cuMemGetInfo", C.shim_mem_info(g.ctx, &f, &t))
	return int64(f), int64(t), err
}

func (g *gpu) alloc(n int) (uint64, error) {
	var p C.sh_dptr
	err := check("cuMemAlloc", C.shim_mem_alloc(g.ctx, &p, C.size_t(n)))
	return uint64(p), err
}

func (g *gpu) free(p uint64) error {
	return check("cuMemFree", C.shim_mem_free(g.ctx, C.sh_dptr(p)))
}

func (g *gpu) hostAlloc(n int) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	err := check("cuMemAllocHost", C.shim_host_alloc(g.ctx, &p, C.size_t(n)))
	return p, err
}

func (g *gpu) hostFree(p unsafe.Pointer) error {
	return check("cuMemFreeHost", C.shim_host_free(g.ctx, p))
}

func (g *gpu) memsetAsync(p uint64, n int) error {
	return check("cuMemsetD8Async", C.shim_memset_async(g.ctx, C.sh_dptr(p), 0, C.size_t(n), g.stream))
}

// htodAsync copies from pinned (C) memory, stream-ordered.
func (g *gpu) htodAsync(dst uint64, src unsafe.Pointer, n int) error {
	return check("cuMemcpyHtoDAsync", C.shim_htod_async(g.ctx, C.sh_dptr(dst), src, C.size_t(n), g.stream))
}

// htod copies Go memory and waits for it.
func (g *gpu) htod(dst uint64, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	return check("cuMemcpyHtoD", C.shim_htod_sync(g.ctx, C.sh_dptr(dst), unsafe.Pointer(&src[0]), C.size_t(len(src)), g.stream))
}

// dtoh copies into Go memory after the queued work, and waits for it.
func (g *gpu) dtoh(dst []byte, src uint64) error {
	if len(dst) == 0 {
		return g.sync()
	}
	return check("cuMemcpyDtoH", C.shim_dtoh_sync(g.ctx, unsafe.Pointer(&dst[0]), C.sh_dptr(src), C.size_t(len(dst)), g.stream))
}

func (g *gpu) dtodAsync(dst, src uint64, n int) error {
	return check("cuMemcpyDtoDAsync", C.shim_dtod_async(g.ctx, C.sh_dptr(dst), C.sh_dptr(src), C.size_t(n), g.stream))
}

func (g *gpu) sync() error {
	return check("cuStreamSynchronize", C.shim_stream_sync(g.ctx, g.stream))
}

// launch runs f on the stream; args hold one value per 8-byte slot. With
// g.pdl set it launches with programmatic dependent launch (see pdl.go).
func (g *gpu) launch(f unsafe.Pointer, grid, block [3]int, smem int, args *argv) error {
	op, pdl := "cuLaunchKernel", C.int(0)
	if g.pdl {
		op, pdl = "cuLaunchKernelEx", 1
	}
	return check(op, C.shim_launch(g.ctx, f,
		C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]),
		C.uint(block[0]), C.uint(block[1]), C.uint(block[2]),
		C.uint(smem), g.stream, (*C.ulonglong)(unsafe.Pointer(&args.v[0])), C.int(args.n), pdl))
}

// hasLaunchEx says whether the driver can launch with attributes.
func hasLaunchEx() bool { return C.shim_has_launch_ex() != 0 }

func (g *gpu) eventCreate(timing bool) (unsafe.Pointer, error) {
	var ev unsafe.Pointer
	t := C.int(0)
	if timing {
		t = 1
	}
	err := check("cuEventCreate", C.shim_event_create(g.ctx, &ev, t))
	return ev, err
}

func (g *gpu) eventRecord(ev unsafe.Pointer) error {
	return check("cuEventRecord", C.shim_event_record(g.ctx, ev, g.stream))
}

func (g *gpu) eventSync(ev unsafe.Pointer) error {
	return check("cuEventSynchronize", C.shim_event_sync(g.ctx, ev))
}

func (g *gpu) eventElapsed(a, b unsafe.Pointer) (float32, error) {
	var ms C.float
	err := check("cuEventElapsedTime", C.shim_event_elapsed(g.ctx, &ms, a, b))
	return float32(ms), err
}

func (g *gpu) eventDestroy(ev unsafe.Pointer) error {
	return check("cuEventDestroy", C.shim_event_destroy(g.ctx, ev))
}

func (g *gpu) captureBegin() error {
	return check("cuStreamBeginCapture", C.shim_capture_begin(g.ctx, g.stream))
}

// captureEnd stops recording and instantiates the graph.
func (g *gpu) captureEnd() (exec unsafe.Pointer, err error) {
	var graph unsafe.Pointer
	if err = check("cuStreamEndCapture", C.shim_capture_end(g.ctx, g.stream, &graph)); err != nil {
		return nil, err
	}
	defer C.shim_graph_destroy(g.ctx, graph)
	err = check("cuGraphInstantiate", C.shim_graph_instantiate(g.ctx, &exec, graph))
	return exec, err
}

func (g *gpu) graphLaunch(exec unsafe.Pointer) error {
	return check("cuGraphLaunch", C.shim_graph_launch(g.ctx, exec, g.stream))
}

func (g *gpu) graphDestroy(exec unsafe.Pointer) error {
	return check("cuGraphExecDestroy", C.shim_graph_exec_destroy(g.ctx, exec))
}

// hostBytes views n bytes of C memory at p as a slice.
func hostBytes(p unsafe.Pointer, n int) []byte { return unsafe.Slice((*byte)(p), n) }

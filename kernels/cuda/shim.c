// shim.c: the function-pointer table of the CUDA driver, filled by dlsym.
// Each entry point makes the backend's context current first: goroutines
// move between OS threads, and a CUDA context is current per thread.
#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>


static struct {
	int (*init)(unsigned);
	int (*driver_version)(int *);
	int (*device_count)(int *);
	int (*device_get)(int *, int);
	int (*device_name)(char *, int, int);
	int (*device_attr)(int *, int, int);
	int (*device_total_mem)(size_t *, int);
	int (*error_name)(int, const char **);
	int (*error_string)(int, const char **);
	int (*ctx_retain)(void **, int);
	int (*ctx_release)(int);
	int (*ctx_set)(void *);
	int (*ctx_sync)(void);
	int (*mem_info)(size_t *, size_t *);
	int (*mem_alloc)(sh_dptr *, size_t);
	int (*mem_free)(sh_dptr);
	int (*host_alloc)(void **, size_t);
	int (*host_free)(void *);
	int (*memset_async)(sh_dptr, unsigned char, size_t, void *);
	int (*htod_async)(sh_dptr, const void *, size_t, void *);
	int (*dtoh_async)(void *, sh_dptr, size_t, void *);
	int (*dtod_async)(sh_dptr, sh_dptr, size_t, void *);
	int (*stream_create)(void **, unsigned);
	int (*stream_destroy)(void *);
	int (*stream_sync)(void *);
	int (*module_load)(void **, const void *);
	int (*module_unload)(void *);
	int (*module_function)(void **, void *, const char *);
	int (*func_attr)(void *, int, int);
	int (*launch)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
		      unsigned, void *, void **, void **);
	int (*event_create)(void **, unsigned);
	int (*event_record)(void *, void *);
	int (*event_sync)(void *);
	int (*event_elapsed)(float *, void *, void *);
	int (*event_destroy)(void *);
	int (*capture_begin)(void *, int);
	int (*capture_end)(void *, void **);
	int (*graph_instantiate)(void **, void *, unsigned long long);
	int (*graph_launch)(void *, void *);
	int (*graph_exec_destroy)(void *);
	int (*graph_destroy)(void *);
	// Optional (CUDA 11.8+): NULL where the driver lacks it.
	int (*launch_ex)(const void *, void *, void **, void **);
} d;

// Our declarations of the driver's CUlaunchAttribute (a 4-byte id padded to
// 8, then a 64-byte value union) and CUlaunchConfig.
struct sh_launch_attr {
	unsigned id;
	unsigned pad;
	union {
		unsigned long long pad[8];
		int i;
	} v;
};
struct sh_launch_config {
	unsigned gx, gy, gz, bx, by, bz, smem;
	void *stream;
	struct sh_launch_attr *attrs;
	unsigned nattrs;
};

static char detail[256];

const char *shim_load_detail(void) { return detail; }

int shim_probe(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(detail, sizeof detail, "%s", e ? e : path);
		return SH_LOAD_NO_LIBRARY;
	}
	dlclose(h);
	return SH_LOAD_OK;
}

int shim_load(const char *path) {
	static void *lib;
	if (lib != NULL)
		return SH_LOAD_OK;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(detail, sizeof detail, "%s", e ? e : path);
		return SH_LOAD_NO_LIBRARY;
	}
	// The versioned names (_v2) are the ABI that cuda.h maps the plain
	// names to since CUDA 4 (64-bit sizes and pointers).
	struct { void **slot; const char *name; } syms[] = {
		{(void **)&d.init, "cuInit"},
		{(void **)&d.driver_version, "cuDriverGetVersion"},
		{(void **)&d.device_count, "cuDeviceGetCount"},
		{(void **)&d.device_get, "cuDeviceGet"},
		{(void **)&d.device_name, "cuDeviceGetName"},
		{(void **)&d.device_attr, "cuDeviceGetAttribute"},
		{(void **)&d.device_total_mem, "cuDeviceTotalMem_v2"},
		{(void **)&d.error_name, "cuGetErrorName"},
		{(void **)&d.error_string, "cuGetErrorString"},
		{(void **)&d.ctx_retain, "cuDevicePrimaryCtxRetain"},
		{(void **)&d.ctx_release, "cuDevicePrimaryCtxRelease_v2"},
		{(void **)&d.ctx_set, "cuCtxSetCurrent"},
		{(void **)&d.ctx_sync, "cuCtxSynchronize"},
		{(void **)&d.mem_info, "cuMemGetInfo_v2"},
		{(void **)&d.mem_alloc, "cuMemAlloc_v2"},
		{(void **)&d.mem_free, "cuMemFree_v2"},
		{(void **)&d.host_alloc, "cuMemAllocHost_v2"},
		{(void **)&d.host_free, "cuMemFreeHost"},
		{(void **)&d.memset_async, "cuMemsetD8Async"},
		{(void **)&d.htod_async, "cuMemcpyHtoDAsync_v2"},
		{(void **)&d.dtoh_async, "cuMemcpyDtoHAsync_v2"},
		{(void **)&d.dtod_async, "cuMemcpyDtoDAsync_v2"},
		{(void **)&d.stream_create, "cuStreamCreate"},
		{(void **)&d.stream_destroy, "cuStreamDestroy_v2"},
		{(void **)&d.stream_sync, "cuStreamSynchronize"},
		{(void **)&d.module_load, "cuModuleLoadData"},
		{(void **)&d.module_unload, "cuModuleUnload"},
		{(void **)&d.module_function, "cuModuleGetFunction"},
		{(void **)&d.func_attr, "cuFuncSetAttribute"},
		{(void **)&d.launch, "cuLaunchKernel"},
		{(void **)&d.event_create, "cuEventCreate"},
		{(void **)&d.event_record, "cuEventRecord"},
		{(void **)&d.event_sync, "cuEventSynchronize"},
		{(void **)&d.event_elapsed, "cuEventElapsedTime"},
		{(void **)&d.event_destroy, "cuEventDestroy_v2"},
		{(void **)&d.capture_begin, "cuStreamBeginCapture_v2"},
		{(void **)&d.capture_end, "cuStreamEndCapture"},
		{(void **)&d.graph_instantiate, "cuGraphInstantiateWithFlags"},
		{(void **)&d.graph_launch, "cuGraphLaunch"},
		{(void **)&d.graph_exec_destroy, "cuGraphExecDestroy"},
		{(void **)&d.graph_destroy, "cuGraphDestroy"},
	};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (*syms[i].slot == NULL) {
			snprintf(detail, sizeof detail, "%s", syms[i].name);
			memset(&d, 0, sizeof d);
			dlclose(h);
			return SH_LOAD_MISSING_SYMBOL;
		}
	}
	d.launch_ex = dlsym(h, "cuLaunchKernelEx");
	lib = h;
	return SH_LOAD_OK;
}

int shim_init(void) { return d.init(0); }
int shim_driver_version(int *v) { return d.driver_version(v); }
int shim_device_count(int *n) { return d.device_count(n); }
int shim_device_get(int ordinal, int *dev) { return d.device_get(dev, ordinal); }
int shim_device_name(int dev, char *buf, int n) { return d.device_name(buf, n, dev); }
int shim_device_attr(int dev, int attr, int *v) { return d.device_attr(v, attr, dev); }
int shim_device_total_mem(int dev, size_t *bytes) { return d.device_total_mem(bytes, dev); }
int shim_error_name(int code, const char **s) { return d.error_name(code, s); }
int shim_error_string(int code, const char **s) { return d.error_string(code, s); }
int shim_ctx_retain(int dev, void **ctx) { return d.ctx_retain(ctx, dev); }
int shim_ctx_release(int dev) { return d.ctx_release(dev); }

// CUR makes ctx current on this thread or returns the failure.
#define CUR(ctx)                                                                                   \
	do {                                                                                       \
		int rc_ = d.ctx_set(ctx);                                                          \
		if (rc_ != 0)                                                                      \
			return rc_;                                                                \
	} while (0)

int shim_ctx_sync(void *ctx) { CUR(ctx); return d.ctx_sync(); }
int shim_mem_info(void *ctx, size_t *f, size_t *t) { CUR(ctx); return d.mem_info(f, t); }
int shim_mem_alloc(void *ctx, sh_dptr *p, size_t n) { CUR(ctx); return d.mem_alloc(p, n); }
int shim_mem_free(void *ctx, sh_dptr p) { CUR(ctx); return d.mem_free(p); }
int shim_host_alloc(void *ctx, void **p, size_t n) { CUR(ctx); return d.host_alloc(p, n); }
int shim_host_free(void *ctx, void *p) { CUR(ctx); return d.host_free(p); }

int shim_memset_async(void *ctx, sh_dptr p, unsigned char v, size_t n, void *s) {
	CUR(ctx);
	return d.memset_async(p, v, n, s);
}
int shim_htod_async(void *ctx, sh_dptr dst, const void *src, size_t n, void *s) {
	CUR(ctx);
	return d.htod_async(dst, src, n, s);
}
int shim_dtoh_async(void *ctx, void *dst, sh_dptr src, size_t n, void *s) {
	CUR(ctx);
	return d.dtoh_async(dst, src, n, s);
}
int shim_htod_sync(void *ctx, sh_dptr dst, const void *src, size_t n, void *s) {
	CUR(ctx);
	int rc = d.htod_async(dst, src, n, s);
	return rc != 0 ? rc : d.stream_sync(s);
}
int shim_dtoh_sync(void *ctx, void *dst, sh_dptr src, size_t n, void *s) {
	CUR(ctx);
	int rc = d.dtoh_async(dst, src, n, s);
	return rc != 0 ? rc : d.stream_sync(s);
}
int shim_dtod_async(void *ctx, sh_dptr dst, sh_dptr src, size_t n, void *s) {
	CUR(ctx);
	return d.dtod_async(dst, src, n, s);
}

// Streams are non-blocking (flag 1): the legacy default stream, which other
// libraries in the process may use, never serialises with ours.
int shim_stream_create(void *ctx, void **s) { CUR(ctx); return d.stream_create(s, 1); }
int shim_stream_destroy(void *ctx, void *s) { CUR(ctx); return d.stream_destroy(s); }
int shim_stream_sync(void *ctx, void *s) { CUR(ctx); return d.stream_sync(s); }

int shim_module_load(void *ctx, void **mod, const void *image) {
	CUR(ctx);
	return d.module_load(mod, image);
}
int shim_module_unload(void *ctx, void *mod) { CUR(ctx); return d.module_unload(mod); }
int shim_module_function(void *ctx, void **fn, void *mod, const char *name) {
	CUR(ctx);
	return d.module_function(fn, mod, name);
}
// 8 = CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.
int shim_func_max_smem(void *ctx, void *fn, int bytes) { CUR(ctx); return d.func_attr(fn, 8, bytes); }

int shim_has_launch_ex(void) { return d.launch_ex != NULL; }

// With pdl, the launch carries CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_
// SERIALIZATION (6): the kernel may start before the previous one on the
// stream ends, and waits for it itself (pdl_enter in common.cuh).
int shim_launch(void *ctx, void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
		unsigned by, unsigned bz, unsigned smem, void *stream, unsigned long long *args,
		int nargs, int pdl) {
	void *params[32];
	if (nargs < 0 || nargs > 32 || (pdl && d.launch_ex == NULL))
		return 1; // CUDA_ERROR_INVALID_VALUE
	for (int i = 0; i < nargs; i++)
		params[i] = &args[i];
	CUR(ctx);
	if (!pdl)
		return d.launch(fn, gx, gy, gz, bx, by, bz, smem, stream, params, NULL);
	struct sh_launch_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.id = 6;
	attr.v.i = 1;
	struct sh_launch_config cfg = {gx, gy, gz, bx, by, bz, smem, stream, &attr, 1};
	return d.launch_ex(&cfg, fn, params, NULL);
}

// timing == 0 creates an event with CU_EVENT_DISABLE_TIMING (2), which is
// cheaper to record and to wait on.
int shim_event_create(void *ctx, void **ev, int timing) {
	CUR(ctx);
	return d.event_create(ev, timing ? 0 : 2);
}
int shim_event_record(void *ctx, void *ev, void *s) { CUR(ctx); return d.event_record(ev, s); }
int shim_event_sync(void *ctx, void *ev) { CUR(ctx); return d.event_sync(ev); }
int shim_event_elapsed(void *ctx, float *ms, void *a, void *b) {
	CUR(ctx);
	return d.event_elapsed(ms, a, b);
}
int shim_event_destroy(void *ctx, void *ev) { CUR(ctx); return d.event_destroy(ev); }

// Capture mode 2 (relaxed): goroutines hop between threads, and a scratch
// allocation during capture must not invalidate it.
int shim_capture_begin(void *ctx, void *s) { CUR(ctx); return d.capture_begin(s, 2); }
int shim_capture_end(void *ctx, void *s, void **g) { CUR(ctx); return d.capture_end(s, g); }
int shim_graph_instantiate(void *ctx, void **exec, void *g) {
	CUR(ctx);
	return d.graph_instantiate(exec, g, 0);
}
int shim_graph_launch(void *ctx, void *exec, void *s) { CUR(ctx); return d.graph_launch(exec, s); }
int shim_graph_exec_destroy(void *ctx, void *exec) { CUR(ctx); return d.graph_exec_destroy(exec); }
int shim_graph_destroy(void *ctx, void *g) { CUR(ctx); return d.graph_destroy(g); }

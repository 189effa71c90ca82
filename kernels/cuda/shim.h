// shim.h: our own declarations of the slice of the CUDA driver API that the
// backend uses, resolved at run time with dlopen/dlsym so that the Go build
// needs neither CUDA headers nor libcuda at link time. Handles cross into Go
// as void* and unsigned long long only.
#ifndef SPILLWAY_CUDA_SHIM_H
#define SPILLWAY_CUDA_SHIM_H

#include <stddef.h>

typedef unsigned long long sh_dptr; // CUdeviceptr

// Codes of shim_load (not CUresults).
enum { SH_LOAD_OK = 0, SH_LOAD_NO_LIBRARY = 1, SH_LOAD_MISSING_SYMBOL = 2 };

// shim_load dlopens path and fills the function table; on failure
// shim_load_detail() says which library or symbol was missing.
int shim_load(const char *path);
// shim_probe says whether path can be dlopened, leaving the table alone.
int shim_probe(const char *path);
const char *shim_load_detail(void);

// Every function below returns a CUresult (0 = success).
int shim_init(void);
int shim_driver_version(int *v);
int shim_device_count(int *n);
int shim_device_get(int ordinal, int *dev);
int shim_device_name(int dev, char *buf, int n);
int shim_device_attr(int dev, int attr, int *v);
int shim_device_total_mem(int dev, size_t *bytes);
int shim_error_name(int code, const char **s);
int shim_error_string(int code, const char **s);

int shim_ctx_retain(int dev, void **ctx);
int shim_ctx_release(int dev);
int shim_ctx_sync(void *ctx);
int shim_mem_info(void *ctx, size_t *free_bytes, size_t *total);

int shim_mem_alloc(void *ctx, sh_dptr *p, size_t n);
int shim_mem_free(void *ctx, sh_dptr p);
int shim_host_alloc(void *ctx, void **p, size_t n);
int shim_host_free(void *ctx, void *p);
int shim_memset_async(void *ctx, sh_dptr p, unsigned char v, size_t n, void *stream);
int shim_htod_async(void *ctx, sh_dptr dst, const void *src, size_t n, void *stream);
int shim_dtoh_async(void *ctx, void *dst, sh_dptr src, size_t n, void *stream);
// The _sync variants wait for the stream, so the host buffer (Go memory)
// is no longer used when they return.
int shim_htod_sync(void *ctx, sh_dptr dst, const void *src, size_t n, void *stream);
int shim_dtoh_sync(void *ctx, void *dst, sh_dptr src, size_t n, void *stream);
int shim_dtod_async(void *ctx, sh_dptr dst, sh_dptr src, size_t n, void *stream);

int shim_stream_create(void *ctx, void **stream);
int shim_stream_destroy(void *ctx, void *stream);
int shim_stream_sync(void *ctx, void *stream);

int shim_module_load(void *ctx, void **mod, const void *image);
int shim_module_unload(void *ctx, void *mod);
int shim_module_function(void *ctx, void **fn, void *mod, const char *name);
int shim_func_max_smem(void *ctx, void *fn, int bytes);

// shim_launch launches fn with nargs parameters; each one sits in its own
// 8-byte slot of args (pointers whole, 4-byte ints and floats in the low
// half), which is how the kernel reads them on a little-endian host. pdl
// launches with programmatic dependent launch, through cuLaunchKernelEx,
// which shim_has_launch_ex says the driver has.
int shim_launch(void *ctx, void *fn, unsigned gx, unsigned gy, unsigned gz,
		unsigned bx, unsigned by, unsigned bz, unsigned smem, void *stream,
		unsigned long long *args, int nargs, int pdl);
int shim_has_launch_ex(void);

int shim_event_create(void *ctx, void **ev, int timing);
int shim_event_record(void *ctx, void *ev, void *stream);
int shim_event_sync(void *ctx, void *ev);
int shim_event_elapsed(void *ctx, float *ms, void *start, void *end);
int shim_event_destroy(void *ctx, void *ev);

int shim_capture_begin(void *ctx, void *stream);
int shim_capture_end(void *ctx, void *stream, void **graph);
int shim_graph_instantiate(void *ctx, void **exec, void *graph);
int shim_graph_launch(void *ctx, void *exec, void *stream);
int shim_graph_exec_destroy(void *ctx, void *exec);
int shim_graph_destroy(void *ctx, void *graph);

#endif

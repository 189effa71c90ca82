// emu.cpp: a CUDA driver stand-in (libcuda.so.1) that runs the kernels of
// kernels/cuda on the host, for testing their logic where there is no GPU:
// SPILLWAY_CUDA_DRIVER=build/cuda-emu/libcuda.so.1 go test ./kernels/cuda/.
//
// It implements the driver calls shim.c makes, synchronously: "device"
// memory is host memory (filled with 0xff bytes, NaN in every float type,
// so reads of unwritten memory show), copies happen when issued, a launch
// runs its blocks one after another, and a captured graph is the list of
// the operations issued during the capture on that stream, replayed in
// order. A block's threads are fibers that run until they reach a barrier:
// __syncthreads waits for every live thread of the block, a warp shuffle
// for every live lane of the warp; threads waiting at different barriers
// abort the process with a message (a real GPU would hang or misbehave).
// Kernels are found by name in the table table.cpp builds from kernels.cu;
// their parameters are copied by type when a launch is issued or captured,
// as the driver does. build.sh compiles with -fno-strict-aliasing: the
// kernels read words through other types, as nvcc lets them.
// SPILLWAY_EMU_TRACE=1 prints every launch (and captured launch) to stderr.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "emu.h"
#include "emu_table.h"

thread_local emu_thread *emu_cur;

// Fiber switches. On x86-64 a switch saves the callee-saved registers
// and the FP control words on the old stack and restores them from the
// new one, with no system call (swapcontext changes the signal mask on
// every switch, which made the emulator spend most of its time in the
// kernel); elsewhere it is swapcontext.
#if defined(__x86_64__)
extern "C" void emu_switch(void **save_sp, void *load_sp);
asm(R"(
	.text
	.globl emu_switch
	.type emu_switch, @function
emu_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $8, %rsp
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	ldmxcsr (%rsp)
	fldcw 4(%rsp)
	addq $8, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size emu_switch, .-emu_switch
)");
#define EMU_FAST_SWITCH 1
#endif

namespace {

enum { RUN, WAIT_BLOCK, WAIT_WARP, DONE };

const size_t stackBytes = 64 << 10; // the deepest kernel frame (WMMA fragments) needs under 16 KB

struct fiber {
#if EMU_FAST_SWITCH
	void *sp; // saved stack pointer while switched out
#else
	ucontext_t ctx;
#endif
	emu_thread t;
	int state;
	uint32_t val; // published for a warp exchange
	std::vector<char> stack;
};

struct block_run {
	std::vector<fiber> f;
#if EMU_FAST_SWITCH
	void *sched; // the scheduler's stack pointer while a fiber runs
#else
	ucontext_t sched;
#endif
	const std::function<void()> *body;
	std::vector<uint32_t> warpVals; // (warps, 32): the last completed exchange
	std::vector<char> dyn;          // dynamic shared memory
	int cur;
};

block_run *run; // the block being run (one at a time)

// to_sched switches from fiber f to the scheduler; to_fiber the reverse.
void to_sched(fiber &f) {
#if EMU_FAST_SWITCH
	emu_switch(&f.sp, run->sched);
#else
	swapcontext(&f.ctx, &run->sched);
#endif
}

void to_fiber(fiber &f) {
#if EMU_FAST_SWITCH
	emu_switch(&run->sched, f.sp);
#else
	swapcontext(&run->sched, &f.ctx);
#endif
}

void entry() {
	fiber &f = run->f[run->cur];
	(*run->body)();
	f.state = DONE;
	to_sched(f);
	abort(); // a finished fiber is never resumed
}

// start_fiber prepares f to begin at entry on its own stack.
void start_fiber(fiber &f) {
#if EMU_FAST_SWITCH
	// What emu_switch pops: FP control words, six registers, then entry
	// as the return address, at a 16-byte-aligned slot (a call's layout).
	uintptr_t top = ((uintptr_t)f.stack.data() + stackBytes) & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)top - 2; // entry's return slot, aligned
	sp[0] = (uint64_t)(uintptr_t)entry;
	sp -= 6; // rbp rbx r12 r13 r14 r15
	for (int i = 0; i < 6; i++)
		sp[i] = 0;
	sp -= 1;
	uint32_t cw[2];
	__asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(cw[0]), "=m"(cw[1]));
	memcpy(sp, cw, 8);
	f.sp = sp;
#else
	getcontext(&f.ctx);
	f.ctx.uc_stack.ss_sp = f.stack.data();
	f.ctx.uc_stack.ss_size = stackBytes;
	f.ctx.uc_link = nullptr;
	makecontext(&f.ctx, entry, 0);
#endif
}

void yield(int state) {
	fiber &f = run->f[run->cur];
	f.state = state;
	to_sched(f);
}

// resolve releases a barrier every live member of which has reached it;
// it reports whether any fiber may run.
bool resolve() {
	int n = (int)run->f.size();
	bool blockReady = true, any = false;
	for (auto &f : run->f)
		if (f.state != DONE && f.state != WAIT_BLOCK)
			blockReady = false;
	for (int w = 0; w * 32 < n; w++) {
		bool ready = true, waiting = false;
		for (int l = w * 32; l < std::min(n, w * 32 + 32); l++) {
			int s = run->f[l].state;
			if (s == WAIT_WARP)
				waiting = true;
			else if (s != DONE)
				ready = false;
		}
		if (ready && waiting) {
			for (int l = w * 32; l < std::min(n, w * 32 + 32); l++) {
				run->warpVals[32 * w + (l - w * 32)] = run->f[l].state == DONE ? 0 : run->f[l].val;
				if (run->f[l].state == WAIT_WARP)
					run->f[l].state = RUN;
			}
			any = true;
		}
	}
	if (blockReady)
		for (auto &f : run->f)
			if (f.state == WAIT_BLOCK) {
				f.state = RUN;
				any = true;
			}
	for (auto &f : run->f)
		if (f.state == RUN)
			any = true;
	return any;
}

void run_block(block_run &b, dim3 grid, dim3 blk, uint3 bid) {
	int n = (int)(blk.x * blk.y * blk.z);
	b.f.resize(n);
	b.warpVals.assign(32 * ((n + 31) / 32), 0);
	for (int i = 0; i < n; i++) {
		fiber &f = b.f[i];
		f.t.tid = {(unsigned)(i % blk.x), (unsigned)(i / blk.x % blk.y), (unsigned)(i / (blk.x * blk.y))};
		f.t.bid = bid;
		f.t.bdim = blk;
		f.t.gdim = grid;
		f.state = RUN;
		if (f.stack.size() != stackBytes)
			f.stack.resize(stackBytes);
		start_fiber(f);
	}
	run = &b;
	for (;;) {
		bool ran = false;
		for (int i = 0; i < n; i++) {
			if (b.f[i].state != RUN)
				continue;
			b.cur = i;
			emu_cur = &b.f[i].t;
			to_fiber(b.f[i]);
			ran = true;
		}
		bool done = true;
		for (auto &f : b.f)
			if (f.state != DONE)
				done = false;
		if (done)
			break;
		if (!resolve() && !ran) {
			fprintf(stderr, "cuda-emu: block (%u,%u,%u) deadlocked: threads wait at different barriers\n", bid.x,
				bid.y, bid.z);
			abort();
		}
	}
	emu_cur = nullptr;
}

struct op {
	int kind; // 0 kernel, 1 copy, 2 memset
	std::function<void()> body;
	dim3 grid, blk;
	unsigned smem;
	void *dst;
	const void *src;
	size_t n;
	unsigned char byte;
};

void exec(const op &o) {
	if (o.kind == 1) {
		memcpy(o.dst, o.src, o.n);
		return;
	}
	if (o.kind == 2) {
		memset(o.dst, o.byte, o.n);
		return;
	}
	static block_run b;
	b.body = &o.body;
	b.dyn.assign(o.smem, (char)0xff);
	for (unsigned z = 0; z < o.grid.z; z++)
		for (unsigned y = 0; y < o.grid.y; y++)
			for (unsigned x = 0; x < o.grid.x; x++)
				run_block(b, o.grid, o.blk, uint3{x, y, z});
}

// A stream records instead of running while it is being captured.
struct stream {
	bool capturing;
	std::vector<op> captured;
};

// mu serialises the emulator: one block runs at a time in the process,
// whichever backend (and OS thread) issued it.
std::mutex mu;

void issue(void *s, op o) {
	stream *st = (stream *)s;
	if (st != nullptr && st->capturing) {
		st->captured.push_back(std::move(o));
		return;
	}
	exec(o);
}

// issue_mem issues a copy (kind 1) or a memset (kind 2) on stream s.
int issue_mem(void *s, int kind, void *dst, const void *src, size_t n, unsigned char byte) {
	std::lock_guard<std::mutex> l(mu);
	op o{};
	o.kind = kind;
	o.dst = dst;
	o.src = src;
	o.n = n;
	o.byte = byte;
	issue(s, std::move(o));
	return 0;
}

struct graph {
	std::vector<op> ops;
};

const emu_kernel *find(const char *name) {
	for (size_t i = 0; i < emu_nkernels; i++)
		if (strcmp(emu_kernels[i].name, name) == 0)
			return &emu_kernels[i];
	return nullptr;
}

int launch(void *s, const void *fn, dim3 grid, dim3 blk, unsigned smem, void **params) {
	if (fn == nullptr || grid.x * grid.y * grid.z == 0 || blk.x * blk.y * blk.z == 0 ||
	    blk.x * blk.y * blk.z > 1024)
		return 1; // CUDA_ERROR_INVALID_VALUE
	static const bool trace = getenv("SPILLWAY_EMU_TRACE") != nullptr;
	if (trace)
		fprintf(stderr, "cuda-emu: %s %s grid (%u,%u,%u) block (%u,%u,%u)\n",
			s != nullptr && ((stream *)s)->capturing ? "capture" : "launch", ((const emu_kernel *)fn)->name,
			grid.x, grid.y, grid.z, blk.x, blk.y, blk.z);
	op o{};
	o.kind = 0;
	o.body = ((const emu_kernel *)fn)->bind(params);
	o.grid = grid;
	o.blk = blk;
	o.smem = smem;
	issue(s, std::move(o));
	return 0;
}

double nowMs() {
	using namespace std::chrono;
	return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

} // namespace

void emu_syncthreads() { yield(WAIT_BLOCK); }

void emu_warp_exchange(uint32_t v, uint32_t *all) {
	run->f[run->cur].val = v;
	yield(WAIT_WARP);
	int w = run->cur / 32;
	memcpy(all, &run->warpVals[32 * w], 32 * sizeof(uint32_t));
}

void *emu_dynamic_smem() { return run->dyn.data(); }

// The driver API, as shim.c declares it.
typedef unsigned long long dptr;

extern "C" {
int cuInit(unsigned) { return 0; }
int cuDriverGetVersion(int *v) {
	*v = 13000;
	return 0;
}
int cuDeviceGetCount(int *n) {
	*n = 1;
	return 0;
}
int cuDeviceGet(int *d, int ordinal) {
	*d = ordinal;
	return ordinal == 0 ? 0 : 101; // CUDA_ERROR_INVALID_DEVICE
}
int cuDeviceGetName(char *name, int len, int) {
	snprintf(name, len, "Spillway CUDA emulator");
	return 0;
}
int cuDeviceGetAttribute(int *v, int attr, int) {
	switch (attr) {
	case 16: *v = 132; break;     // multiprocessors, as an H100: Attention then splits its keys as there
	case 36: *v = 1000000; break; // memory clock, kHz
	case 37: *v = 64; break;      // bus width, bits
	case 75: *v = 9; break;       // compute capability
	case 76: *v = 0; break;
	case 97: *v = 227 << 10; break; // shared memory a block may opt into
	default: *v = 0;
	}
	return 0;
}
int cuDeviceTotalMem_v2(size_t *b, int) {
	*b = 8ull << 30;
	return 0;
}
int cuGetErrorName(int code, const char **s) {
	static char buf[32];
	snprintf(buf, sizeof buf, "EMU_ERROR_%d", code);
	*s = buf;
	return 0;
}
int cuGetErrorString(int, const char **s) {
	*s = "error in the CUDA emulator";
	return 0;
}
int cuDevicePrimaryCtxRetain(void **ctx, int) {
	static int token;
	*ctx = &token;
	return 0;
}
int cuDevicePrimaryCtxRelease_v2(int) { return 0; }
int cuCtxSetCurrent(void *) { return 0; }
int cuCtxSynchronize(void) { return 0; }
int cuMemGetInfo_v2(size_t *free, size_t *total) {
	*free = 6ull << 30;
	*total = 8ull << 30;
	return 0;
}
int cuMemAlloc_v2(dptr *p, size_t n) {
	void *m = aligned_alloc(256, (n + 255) / 256 * 256);
	if (m == nullptr)
		return 2; // CUDA_ERROR_OUT_OF_MEMORY
	memset(m, 0xff, n);
	*p = (dptr)m;
	return 0;
}
int cuMemFree_v2(dptr p) {
	free((void *)p);
	return 0;
}
int cuMemAllocHost_v2(void **p, size_t n) {
	*p = malloc(n);
	return *p ? 0 : 2;
}
int cuMemFreeHost(void *p) {
	free(p);
	return 0;
}
int cuMemsetD8Async(dptr p, unsigned char v, size_t n, void *s) {
	return issue_mem(s, 2, (void *)p, nullptr, n, v);
}
int cuMemcpyHtoDAsync_v2(dptr dst, const void *src, size_t n, void *s) {
	return issue_mem(s, 1, (void *)dst, src, n, 0);
}
int cuMemcpyDtoHAsync_v2(void *dst, dptr src, size_t n, void *s) {
	std::lock_guard<std::mutex> l(mu);
	if (s != nullptr && ((stream *)s)->capturing)
		return 900; // CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
	memcpy(dst, (const void *)src, n);
	return 0;
}
int cuMemcpyDtoDAsync_v2(dptr dst, dptr src, size_t n, void *s) {
	return issue_mem(s, 1, (void *)dst, (const void *)src, n, 0);
}
int cuStreamCreate(void **s, unsigned) {
	*s = new stream{};
	return 0;
}
int cuStreamDestroy_v2(void *s) {
	delete (stream *)s;
	return 0;
}
int cuStreamSynchronize(void *) { return 0; }
int cuModuleLoadData(void **m, const void *) {
	static int token;
	*m = &token;
	return 0;
}
int cuModuleUnload(void *) { return 0; }
int cuModuleGetFunction(void **fn, void *, const char *name) {
	const emu_kernel *k = find(name);
	if (k == nullptr)
		return 500; // CUDA_ERROR_NOT_FOUND
	*fn = (void *)k;
	return 0;
}
int cuFuncSetAttribute(void *, int, int) { return 0; }
int cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		   unsigned smem, void *s, void **params, void **) {
	std::lock_guard<std::mutex> l(mu);
	return launch(s, fn, dim3{gx, gy, gz}, dim3{bx, by, bz}, smem, params);
}
// cuLaunchKernelEx takes the driver's CUlaunchConfig: the grid, the block
// and the shared memory size (seven unsigned ints), then the stream; the
// attributes (programmatic dependent launch) change nothing in a serial
// emulator.
struct launch_config {
	unsigned dims[7];
	void *stream;
};
int cuLaunchKernelEx(const launch_config *c, void *fn, void **params, void **) {
	std::lock_guard<std::mutex> l(mu);
	const unsigned *d = c->dims;
	return launch(c->stream, fn, dim3{d[0], d[1], d[2]}, dim3{d[3], d[4], d[5]}, d[6], params);
}
int cuEventCreate(void **ev, unsigned) {
	*ev = new double(0);
	return 0;
}
int cuEventRecord(void *ev, void *) {
	*(double *)ev = nowMs();
	return 0;
}
int cuEventSynchronize(void *) { return 0; }
int cuEventElapsedTime(float *ms, void *a, void *b) {
	*ms = (float)(*(double *)b - *(double *)a);
	return 0;
}
int cuEventDestroy_v2(void *ev) {
	delete (double *)ev;
	return 0;
}
int cuStreamBeginCapture_v2(void *s, int) {
	std::lock_guard<std::mutex> l(mu);
	stream *st = (stream *)s;
	if (st == nullptr || st->capturing)
		return 1;
	st->capturing = true;
	st->captured.clear();
	return 0;
}
int cuStreamEndCapture(void *s, void **g) {
	std::lock_guard<std::mutex> l(mu);
	stream *st = (stream *)s;
	if (st == nullptr || !st->capturing)
		return 1;
	st->capturing = false;
	*g = new graph{std::move(st->captured)};
	st->captured.clear();
	return 0;
}
int cuGraphInstantiateWithFlags(void **exec, void *g, unsigned long long) {
	*exec = new graph(*(graph *)g);
	return 0;
}
int cuGraphLaunch(void *exec, void *) {
	std::lock_guard<std::mutex> l(mu);
	for (const op &o : ((graph *)exec)->ops)
		::exec(o);
	return 0;
}
int cuGraphExecDestroy(void *exec) {
	delete (graph *)exec;
	return 0;
}
int cuGraphDestroy(void *g) {
	delete (graph *)g;
	return 0;
}
}

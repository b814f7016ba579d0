// Package memstat samples the process's memory for per-connection memory
// benchmarks.
package memstat

import "runtime"

// Sample runs the garbage collector until the heap settles and returns the
// live heap and goroutine-stack bytes and the number of goroutines.
func Sample() (heap, stack uint64, goroutines int) {
	for range 3 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine()
}

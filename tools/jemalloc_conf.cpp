// jemalloc's options for the executables that run simulations (read at its
// start; MALLOC_CONF in the environment still overrides them).
//
// dirty_decay_ms: jemalloc keeps freed pages resident for 10 s by default,
// for reuse. A simulation frees large buffers as it goes (a log's page-cache
// image outgrowing its vector, the disks after the run), and a standard run
// at 1,000 records/s lasts about 2 s: so nearly every page it ever freed
// stayed in its peak, 13 MB of 81. Returned after 100 ms instead, the peak
// is the memory in use, at no measurable cost in CPU time (issue 14's
// measurements); 0 (return at once) cost 12% more CPU.
extern "C" {
// NOLINTNEXTLINE: the name and type jemalloc looks for
const char* malloc_conf = "dirty_decay_ms:100";
}

package cpus

import "runtime"

// N is GOMAXPROCS as package initialisation found it, before main could
// change it.
var N = runtime.GOMAXPROCS(0)

package main

// The pure-Go reference backend is always present; the fast CPU backend
// joins it when built with cgo (backends_cgo.go).
import _ "spillway/kernels/ref"

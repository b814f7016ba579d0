package engine

// Node is the per-process engine.
type Node struct{}

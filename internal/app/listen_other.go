//go:build !linux

package app

import "syscall"

// listenKeepAlive leaves TCP keep-alive to Go, which sets it per accepted
// connection.
func listenKeepAlive() (perConn bool, control func(network, address string, c syscall.RawConn) error) {
	return true, nil
}

//go:build linux

package local

// sysSetns is the setns(2) system call number on linux/arm64 (the syscall
// package does not export it).
const sysSetns = 268

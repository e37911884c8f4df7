//go:build race

package redisx

const raceEnabled = true

package otel

import (
	"fmt"
	"reflect"
)

// isNil reports whether v is nil or an interface holding a nil pointer, so a
// nil *Memory passed as a StatsReporter is refused at registration rather
// than panicking in a collection.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

func errNil(what string) error {
	return fmt.Errorf("%w: nil %s", ErrInvalidConfig, what)
}

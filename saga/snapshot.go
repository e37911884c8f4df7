package saga

import (
	"encoding"
	"encoding/json"
	"reflect"
)

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// comparableJSON reports whether two values of t that are == always encode
// to the same JSON, so that a run can tell that a step left the data as it
// was without encoding it again: t is built of booleans, integers, strings,
// arrays and structs only. Not floats (0 == -0, but they encode apart),
// nothing that refers to memory a step could change behind an == (pointers,
// slices, maps, interfaces), nothing that encodes itself (a MarshalJSON
// may read more than the value).
func comparableJSON(t reflect.Type) bool {
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	case reflect.Array:
		return comparableJSON(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !comparableJSON(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

package cache

import (
	"encoding/json"
	"errors"
)

// Codec turns values into the bytes Redis stores and back. Unmarshal gets
// a pointer to the value to fill in.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default Codec: encoding/json.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// rawCodec stores []byte and string values as they are; Redis picks it by
// default for those value types.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return nil, errNotRaw
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	switch v := v.(type) {
	case *[]byte:
		*v = data // the caller hands data over
		return nil
	case *string:
		*v = string(data)
		return nil
	}
	return errNotRaw
}

var errNotRaw = errors.New("cache: the raw codec takes []byte and string values only")

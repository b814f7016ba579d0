package websocket

// MaskedFrame exposes maskedFrame to the external tests.
var MaskedFrame = maskedFrame

package api_test

import (
	"github.com/heraldrt/herald/internal/api"
	"github.com/heraldrt/herald/internal/engine"
)

// The engine Node is the production Engine.
var _ api.Engine = (*engine.Node)(nil)

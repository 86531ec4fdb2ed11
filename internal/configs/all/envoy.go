package all

import _ "github.com/keeptune/keeptune/internal/configs/envoy" // Envoy bootstrap YAML/JSON

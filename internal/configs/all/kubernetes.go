package all

import _ "github.com/keeptune/keeptune/internal/configs/kubernetes" // Kubernetes manifests (pod sysctls)

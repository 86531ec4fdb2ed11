package all

import _ "github.com/keeptune/keeptune/internal/configs/redis" // redis.conf

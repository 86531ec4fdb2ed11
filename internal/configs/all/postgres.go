package all

import _ "github.com/keeptune/keeptune/internal/configs/postgres" // postgresql.conf

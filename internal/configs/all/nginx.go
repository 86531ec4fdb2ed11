package all

import _ "github.com/keeptune/keeptune/internal/configs/nginx" // nginx.conf and its includes

package all

import _ "github.com/keeptune/keeptune/internal/configs/gunicorn" // gunicorn.conf.py and gunicorn command lines

package all

import _ "github.com/keeptune/keeptune/internal/configs/apache" // apache2.conf / httpd.conf and their includes

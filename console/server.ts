// Entry point of `bash scripts/services.sh start console`; the composition root is src/server/main.ts.
import './src/server/main.ts'

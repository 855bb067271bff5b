"""The benchmark harness: a generated douban-shaped site, its servers, and the runner."""

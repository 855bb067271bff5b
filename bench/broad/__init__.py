"""The broad-crawl benchmark: a web of many hosts on loopback, and a runner that crawls it."""

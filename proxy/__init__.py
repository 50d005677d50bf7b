"""The aiohttp I/O shell: CLI, config, control plane, proxy handler, upstream client."""

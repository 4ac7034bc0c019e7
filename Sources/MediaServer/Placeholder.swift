enum _MediaServer {}

{
  "targets": [
    {
      "target_name": "weft_native",
      "sources": ["weft_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}

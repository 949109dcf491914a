return 0; // replaced by the benchmark switcher

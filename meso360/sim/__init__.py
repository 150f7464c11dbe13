"""meso360-sim: a Campbell CR1000X datalogger web server simulator that replays real observations."""

"""API composition: plan a route's upstream calls and run them within its deadline."""

"""Helpers for zonegate's own tests (and anyone testing against zonegate): real servers."""

"""Operations: the command line, the Prefect server and deployments, progress, the file server, failures."""

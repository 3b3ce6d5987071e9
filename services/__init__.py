"""kkot's services: gateway, web, WAS, the model container, and the ML pipeline."""

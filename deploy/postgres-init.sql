-- Rasa's conversations (tracker store) in their own database, next to `assistant` (catalog, handoff, ratings).
CREATE DATABASE tracker OWNER assistant;

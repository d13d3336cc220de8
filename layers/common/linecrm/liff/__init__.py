"""The LIFF pages linecrm serves (member card, open-the-shop) and their JSON routes."""
